"""Edge programs that feed the service: the camera gateway (video in, embeddings and plate reads
out) and the Frigate bridge (an NVR's recognised plates over MQTT).

Both run as the least trusted principal, a camera gateway: they submit sightings and plate reads
and learn, of each read, only whether it hit. Neither writes a frame, a face or a plate to disk
(P7); neither logs a plate text.
"""
