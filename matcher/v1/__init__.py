"""Generated gRPC code for the matcher.v1 contract: do not edit."""
