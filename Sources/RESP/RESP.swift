/// RESP2 + inline command parser and encoder. See the files of this target.
public enum RESP {}
