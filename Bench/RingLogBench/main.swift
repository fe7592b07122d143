print("RingLogBench: not written yet")
