/// votequorum arithmetic and flags. See the files of this target.
public enum VoteQuorum {}
