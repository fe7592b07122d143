print("CMapBench: not written yet")
