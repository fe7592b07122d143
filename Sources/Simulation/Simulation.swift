/// The deterministic simulator. See the files of this target.
public enum Simulator {}
