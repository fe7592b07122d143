/// The IO shell. See the files of this target.
public enum NodeShell {}
