"""One migration per schema version: 0001 creates version 1, each next file upgrades by one."""
