print("TotemBench: not written yet")
