import Glibc

/// The descriptor limit (RLIMIT_NOFILE), for keeping descriptors in reserve.
public enum DescriptorLimit {
  /// The soft limit: the first descriptor number `open`/`accept` can no longer return. Int.max
  /// when unlimited or unreadable.
  public static func soft() -> Int {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max
    else { return Int.max }
    return Int(clamping: limit.rlim_cur)
  }

}
