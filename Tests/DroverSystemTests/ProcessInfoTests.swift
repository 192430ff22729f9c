import Foundation
import Testing

@testable import DroverSystem

@Suite struct ProcessInfoTests {
  @Test func rssOfSelfIsPositiveAndOfNoProcessNil() {
    let rss = ResourceUsage.rss(of: getpid())
    #expect((rss ?? 0) > 1024 * 1024)
    #expect(ResourceUsage.rss(of: Int32.max) == nil)
  }

  @Test func monotonicClockMovesForward() {
    let a = Monotonic.now()
    usleep(2_000)
    let b = Monotonic.now()
    #expect(b - a >= .milliseconds(2))
    #expect(abs(Monotonic.nanoseconds() / 1_000 - Monotonic.microseconds()) < 1_000_000)
  }

  @Test func selfExecutableIsThisTestRunner() {
    let path = SelfExecutable.path()
    #expect(path.hasPrefix("/"))
    #expect(access(path, X_OK) == 0)
  }

  @Test func mallocTuneIsHarmless() {
    Malloc.tune()
    Malloc.tune()
  }

  @Test func currentProcessIdentity() {
    #expect(CurrentProcess.id == getpid())
    #expect(CurrentProcess.parentID == getppid())
    #expect(CurrentProcess.userID == geteuid())
    #expect(CurrentProcess.groupID == getegid())
  }

  /// Arms SIGURG, whose default action is to do nothing, so even if our parent died during
  /// the test nothing would happen; the previous setting is restored.
  @Test func parentDeathArmChecksTheParent() throws {
    let previous = try ParentDeath.armedSignal()
    defer { _ = try? ParentDeath.arm(signal: previous) }
    #expect(try ParentDeath.arm(signal: SIGURG, expectedParent: getppid()))
    #expect(try ParentDeath.armedSignal() == SIGURG)
    #expect(try !ParentDeath.arm(signal: SIGURG, expectedParent: getppid() == 1 ? 2 : 1))
    try ParentDeath.disarm()
    #expect(try ParentDeath.armedSignal() == 0)
  }
}
