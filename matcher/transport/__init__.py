"""Thin gRPC servicers: proto <-> domain, authentication, error mapping, audit of every call."""
