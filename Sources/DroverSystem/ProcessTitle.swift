import CDroverShim

#if canImport(Glibc)
  import Glibc
#endif

/// What `ps`, `top` and `pgrep` show for this process.
public enum ProcessTitle {
  /// Sets the process name (`comm`: `pgrep NAME`, `top`; 15 bytes at most) and rewrites the
  /// command line (`ps`, `pgrep -f`, /proc/PID/cmdline) to `title`, which must be the main
  /// thread's call before other threads read `CommandLine.arguments`.
  ///
  /// The command line is rewritten in place, within the memory the kernel gave the original
  /// arguments (from `argv[0]` to the end of the last one): a longer title is cut to fit, the
  /// rest is zeroed so no old argument shows. `CommandLine.arguments`, already copied by the
  /// Swift runtime, keeps the original values.
  public static func set(name: String, title: String) {
    _ = drover_set_process_name(name)
    let argc = Int(CommandLine.argc)
    let argv = CommandLine.unsafeArgv
    guard argc > 0, let first = argv[0], let last = argv[argc - 1] else { return }
    let start = UnsafeMutableRawPointer(first)
    let end = UnsafeMutableRawPointer(last) + strlen(last)
    let room = end - start
    guard room > 0 else { return }
    memset(start, 0, room)
    let bytes = Array(title.utf8.prefix(room))
    bytes.withUnsafeBytes { _ = memcpy(start, $0.baseAddress!, $0.count) }
  }
}
