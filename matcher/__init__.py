"""matcher: case-scoped face (and plate) matching over gRPC, enforcing the city's privacy policy.

onnxruntime sends telemetry unless ORT_DISABLE_TELEMETRY=1 is set before it is imported; the
package sets it here, first, so that no code path of ours can import onnxruntime without it.
"""

import os

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
