import Glibc

/// A failed system call: which call, the `errno` it left, and the text for that errno.
///
/// Every throwing function in DroverSystem throws this type (typed throws), so callers can
/// switch on ``code`` (for example `EAGAIN`, `ECHILD`) without casting. ``description`` reads
/// `"bind: /run/drover/control.sock: a live server already answers on this socket (Address
/// already in use)"` when there is a ``detail``, `"epoll_wait: Bad file descriptor"` otherwise.
public struct SystemError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The system call or library function that failed, e.g. `"posix_spawn"`.
  public var call: String
  /// The `errno` value (or the error number a `posix_spawn*` function returned).
  public var code: Int32
  /// `strerror(code)`, captured when the error was made.
  public var message: String
  /// What the call was working on (a path, a pid) or a more precise reason, if any.
  public var detail: String?

  /// Makes an error for `call` that failed with `code`; `message` is `strerror(code)`.
  public init(call: String, code: Int32, detail: String? = nil) {
    self.call = call
    self.code = code
    self.detail = detail
    // glibc's strerror is thread-safe for every known errno since 2.32 (static table).
    self.message = String(cString: strerror(code))
  }

  public var description: String {
    if let detail { return "\(call): \(detail) (\(message))" }
    return "\(call): \(message)"
  }

  /// An error for `call` from the calling thread's current `errno`.
  static func current(_ call: String, _ detail: String? = nil) -> SystemError {
    SystemError(call: call, code: errno, detail: detail)
  }
}

/// Runs `body` until it returns something other than -1 with `errno == EINTR`.
@inline(__always)
func retryOnInterrupt<T: FixedWidthInteger>(_ body: () -> T) -> T {
  while true {
    let result = body()
    if result == -1 && errno == EINTR { continue }
    return result
  }
}
