"""Developer and operator commands: run the stack, local Redis, training and evaluation."""
