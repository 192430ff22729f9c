import CDroverShim
import Glibc

/// A signalfd(2): blocked signals read as data from a descriptor an epoll loop can watch.
///
/// The fd only sees signals that are *blocked* in the reading thread; see
/// ``Signals/blockForProcess(_:)`` for why that must hold in every thread. It reports signals
/// pending for the process, and those pending for the thread that reads it (a thread-directed
/// signal sent with pthread_kill/tgkill/raise is only visible to a read from that thread).
/// Standard signals coalesce: two SIGCHLDs before a read come out as one.
public struct SignalFD: Sendable, Hashable {
  /// The descriptor: non-blocking and close-on-exec. Add it to ``Epoll`` for `.readable`.
  public let fd: Int32

  /// Creates a signalfd for `signals`. It does not block them; call
  /// ``Signals/blockForProcess(_:)`` first.
  public init(signals: [Int32]) throws(SystemError) {
    var set = sigset_t()
    sigemptyset(&set)
    for signal in signals { sigaddset(&set, signal) }
    let fd = signalfd(-1, &set, Int32(SFD_NONBLOCK | SFD_CLOEXEC))
    guard fd >= 0 else { throw .current("signalfd", "signals \(signals)") }
    self.fd = fd
  }

  /// Reads one pending signal.
  ///
  /// - Returns: its number, or `nil` when none is pending. Loop until `nil` after the fd
  ///   turns readable.
  public func next() throws(SystemError) -> Int32? {
    var info = signalfd_siginfo()
    let size = MemoryLayout<signalfd_siginfo>.size
    let n = retryOnInterrupt { read(fd, &info, size) }
    if n == size { return Int32(bitPattern: info.ssi_signo) }
    if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return nil }
    if n >= 0 { throw SystemError(call: "read", code: EIO, detail: "signalfd short read \(n)") }
    throw .current("read", "signalfd \(fd)")
  }

  /// Reads every pending signal, in delivery order; empty when none is pending.
  public func drain() throws(SystemError) -> [Int32] {
    var signals: [Int32] = []
    while let signal = try next() { signals.append(signal) }
    return signals
  }

  /// Closes the descriptor. Signals stay blocked.
  public func close() { FD.close(fd) }
}
