import Glibc

/// Identity of the calling process, for code that should not import Glibc.
public enum CurrentProcess {
  /// getpid().
  public static var id: Int32 { getpid() }
  /// getppid(): 1 (or a subreaper's pid) once the original parent has died.
  public static var parentID: Int32 { getppid() }
  /// geteuid(): the user id that file and SO_PEERCRED checks see.
  public static var userID: UInt32 { geteuid() }
  /// getegid().
  public static var groupID: UInt32 { getegid() }
}
