import Foundation
import Testing

@testable import DroverSystem

/// The signal is sent to this thread (pthread_kill), not to the process. Under `swift test`
/// other threads exist that this test cannot make block SIGHUP, and the kernel hands a
/// process-directed signal to any thread that does not block it, where SIGHUP's default
/// action would end the test run. A thread-directed signal stays pending on this thread, which
/// blocks it, and a signalfd read from the same thread reports it. The test body is
/// synchronous, so it runs on one thread throughout.
@Suite struct SignalFDTests {
  @Test func receivesSIGHUPSentToSelf() throws {
    var hangup = sigset_t()
    sigemptyset(&hangup)
    sigaddset(&hangup, SIGHUP)
    var old = sigset_t()
    pthread_sigmask(SIG_BLOCK, &hangup, &old)
    defer {
      // Consume anything still pending before unblocking, or SIGHUP would kill the run.
      var none = timespec()
      while sigtimedwait(&hangup, nil, &none) == SIGHUP {}
      pthread_sigmask(SIG_SETMASK, &old, nil)
    }
    #expect(Signals.isBlocked(SIGHUP))

    let signals = try SignalFD(signals: [SIGHUP, SIGUSR2])
    defer { signals.close() }
    let epoll = try Epoll()
    try epoll.add(signals.fd, interest: .readable)
    #expect(try epoll.wait(timeout: .zero).isEmpty)
    #expect(try signals.next() == nil)

    #expect(pthread_kill(pthread_self(), SIGHUP) == 0)
    let ready = try epoll.wait(timeout: .seconds(5))
    #expect(ready.map(\.fd) == [signals.fd])
    #expect(try signals.drain() == [SIGHUP])
    #expect(try signals.next() == nil)
  }

  @Test func blockAndUnblockChangeThisThreadsMask() throws {
    var old = sigset_t()
    pthread_sigmask(SIG_BLOCK, nil, &old)
    defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
    try Signals.blockForProcess([SIGUSR1])
    #expect(Signals.isBlocked(SIGUSR1))
    try Signals.unblock([SIGUSR1])
    #expect(!Signals.isBlocked(SIGUSR1))
  }
}
