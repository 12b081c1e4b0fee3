"""The engine floor: the Trainer that schedules a task's phases, its callbacks, checkpoints, and run directories."""
