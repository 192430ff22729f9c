import CSystemd
import Glibc
import Synchronization

/// Listening sockets handed over by systemd (socket activation, sd_listen_fds(3)).
///
/// A `.socket` unit binds the sockets before the service starts, so clients can connect while
/// it starts or restarts (their connections wait in the kernel's backlog). The service finds
/// them as descriptors 3… with `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES` in its
/// environment; each is named by the socket unit's `FileDescriptorName=` (`control` for the
/// control socket, `http` for the HTTP port).
///
/// The variables are read once per process, on first use, and then removed from the
/// environment so nothing this process starts takes them for its own. Every descriptor is
/// made close-on-exec at once (systemd passes them inheritable), so workers never hold a
/// listener.
public enum SocketActivation {
  /// The name a socket unit gives the control socket (`FileDescriptorName=control`).
  public static let controlName = "control"
  /// The name a socket unit gives the HTTP listener (`FileDescriptorName=http`). The HTTP
  /// server takes it with `take(named: SocketActivation.httpName)` instead of binding.
  public static let httpName = "http"

  private struct Passed {
    /// Not yet taken, by name.
    var available: [String: [Int32]] = [:]
    /// Handed out by `take`: these belong to systemd's socket unit, whose file must outlive us.
    var taken: Set<Int32> = []
  }

  private static let passed = Mutex<Passed?>(nil)

  /// Takes the passed listener called `name`, if systemd passed one; each descriptor is
  /// handed out once. A single descriptor passed without a name (`FileDescriptorName=` unset,
  /// which systemd reports as `unknown`) counts as the control socket.
  ///
  /// - Returns: a non-blocking, close-on-exec listening descriptor, or `nil` when this process
  ///   was not socket-activated or no listener has that name.
  public static func take(named name: String) -> Int32? {
    passed.withLock { state in
      if state == nil { state = collect() }
      var key = name
      if state!.available[name] == nil, name == controlName,
        state!.available.count == 1, state!.available["unknown"]?.count == 1
      {
        key = "unknown"
      }
      guard var fds = state!.available[key], !fds.isEmpty else { return nil }
      let fd = fds.removeFirst()
      state!.available[key] = fds.isEmpty ? nil : fds
      state!.taken.insert(fd)
      return fd
    }
  }

  /// Whether `fd` came from systemd through ``take(named:)``: its socket file is systemd's to
  /// remove, not ours (the socket unit keeps listening after the service stops).
  public static func isActivated(_ fd: Int32) -> Bool {
    passed.withLock { $0?.taken.contains(fd) ?? false }
  }

  /// Records that `fd` is a systemd listener although it did not come through ``take(named:)``
  /// in this program image: an in-place upgrade hands it over from the previous one.
  public static func adopt(_ fd: Int32) {
    passed.withLock { state in
      if state == nil { state = collect() }
      state!.taken.insert(fd)
    }
  }

  /// The names of passed listeners nobody took (for a warning: a socket unit offers something
  /// the config does not use).
  public static func untaken() -> [String] {
    passed.withLock { state in
      if state == nil { state = collect() }
      return state!.available.keys.sorted()
    }
  }

  private static func collect() -> Passed {
    var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
    // unset_environment = 1: LISTEN_* must not leak into what this process starts.
    let n = sd_listen_fds_with_names(1, &names)
    defer {
      if let names {
        var i = 0
        while let p = names[i] {
          free(p)
          i += 1
        }
        free(names)
      }
    }
    var result = Passed()
    guard n > 0 else { return result }
    for i in 0..<Int(n) {
      let fd = SD_LISTEN_FDS_START + Int32(i)
      _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
      let flags = fcntl(fd, F_GETFL)
      if flags >= 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
      let name = names?[i].map { String(cString: $0) } ?? "unknown"
      result.available[name, default: []].append(fd)
    }
    return result
  }
}
