/// The durable append-only log. See the files of this target.
public enum RingLogFormat {}
