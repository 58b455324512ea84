"""The gateway's use cases: the intake (HTTP commands) and the read model (a consumer's batch handlers)."""
