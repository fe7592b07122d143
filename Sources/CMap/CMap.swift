/// The typed replicated key-value store. See the files of this target.
public enum CMapFormat {}
