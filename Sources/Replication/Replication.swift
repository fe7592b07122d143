/// The replicated log. See the files of this target.
public enum Replication {}
