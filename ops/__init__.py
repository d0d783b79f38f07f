"""Operations drills: make chaos (crashes, restarts, partitions) and make soak."""
