"""The app floor: run orchestration (``training``) and the command line (``cli``)."""
