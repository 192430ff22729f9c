import Foundation
import Testing

@testable import DroverSystem

@Suite struct ProcessSpawnerTests {
  @Test func childWritesToFD3AndParentReadsIt() throws {
    let (parent, child) = try SocketPair.make()
    defer { FD.close(parent) }
    let process = try Child.sh("echo hi >&3", childFD: child)
    FD.close(child)
    #expect(try readToEnd(parent) == "hi\n")
    #expect(try process.wait() == .exited(0))
  }

  @Test func fd3WorksWhateverTheSourceNumbers() throws {
    // The socket end may already be fd 3 (when that number is free), and stdout comes from
    // another socket: neither mapping may clobber the other.
    let (parent, child) = try SocketPair.make()
    let (outParent, outChild) = try SocketPair.make()
    defer {
      FD.close(parent)
      FD.close(outParent)
    }
    let low = fcntl(child, F_DUPFD_CLOEXEC, 3)
    try #require(low >= 3)
    FD.close(child)
    let process = try Child.sh(
      "echo three >&3; echo out", childFD: low, standardOutput: .fd(outChild))
    FD.close(low)
    FD.close(outChild)
    #expect(try readToEnd(parent) == "three\n")
    #expect(try readToEnd(outParent) == "out\n")
    #expect(try process.wait() == .exited(0))
  }

  @Test func exitCodeIsReportedAsText() throws {
    let process = try Child.sh("exit 3")
    let status = try process.wait()
    #expect(status == .exited(3))
    #expect(status.description == "exited with status 3")
    #expect(!status.isSuccess)
  }

  @Test func deathBySignalIsReportedAsText() throws {
    let process = try Child.sh("kill -9 $$")
    let status = try process.wait()
    #expect(status == .signaled(9, coreDumped: false))
    #expect(status.description == "exited on signal 9")
  }

  @Test func parentCanKillAChild() throws {
    let (parent, child) = try SocketPair.make()
    defer { FD.close(parent) }
    let process = try Child.sh("read line <&3", childFD: child)
    FD.close(child)
    #expect(try ProcessReaper.reap(process.pid) == nil)
    try Signals.send(signal: Signals.kill, to: process.pid)
    #expect(try process.wait().description == "exited on signal 9")
    #expect(throws: SystemError.self) { try ProcessReaper.reap(process.pid) }
  }

  @Test func childInheritsNoOtherDescriptors() throws {
    let (parent, child) = try SocketPair.make()
    let pipe = try PipePair.make()
    let plain = dup(pipe.read)  // no close-on-exec: closed in the child all the same
    defer {
      FD.close(parent)
      FD.close(pipe.read)
      FD.close(pipe.write)
      FD.close(plain)
    }
    #expect(try !FD.isCloseOnExec(plain))
    // Numbers 0-3 exist in the child by design (stdio and the socket), whatever they were here.
    let numbers = [parent, pipe.read, pipe.write, plain].filter { $0 > 3 }
      .map(String.init).joined(separator: " ")
    let script = """
      for n in \(numbers); do [ -e /proc/self/fd/$n ] && echo "leaked $n" >&3; done
      [ -e /proc/self/fd/3 ] && echo ok >&3
      """
    let process = try Child.sh(script, childFD: child)
    FD.close(child)
    #expect(try readToEnd(parent) == "ok\n")
    #expect(try process.wait() == .exited(0))
  }

  @Test func signalMaskAndDispositionsAreReset() throws {
    // Block SIGHUP in this thread (the spawning thread's mask is what a child inherits) and
    // check the shell starts with nothing blocked or ignored anyway.
    var hangup = sigset_t()
    sigemptyset(&hangup)
    sigaddset(&hangup, SIGHUP)
    var old = sigset_t()
    pthread_sigmask(SIG_BLOCK, &hangup, &old)
    defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
    let (parent, child) = try SocketPair.make()
    defer { FD.close(parent) }
    let process = try Child.sh("grep -E '^Sig(Blk|Ign)' /proc/self/status >&3", childFD: child)
    FD.close(child)
    let masks = try readToEnd(parent).split(separator: "\n").map {
      UInt64($0.split(separator: "\t").last ?? "", radix: 16)
    }
    // glibc's posix_spawn leaves its two internal signals (32 and 33) ignored; the new
    // program's own glibc sets them up again. Everything else must be clear.
    let glibcInternal: UInt64 = 1 << 31 | 1 << 32
    #expect(masks == [0, masks.last.flatMap { $0 }.map { $0 & glibcInternal }])
    #expect(masks.count == 2)
    #expect(try process.wait() == .exited(0))
  }

  @Test func environmentOverridesRemovalsAndExactSets() throws {
    setenv("DROVER_TEST_REMOVE", "present", 1)
    let (parent, child) = try SocketPair.make()
    defer { FD.close(parent) }
    let first = try Child.sh(
      "echo \"$DROVER_TEST_SET:${DROVER_TEST_REMOVE-unset}:${HOME:+home}\" >&3", childFD: child,
      environment: .inheritWith(
        overrides: ["DROVER_TEST_SET": "x y"], removing: ["DROVER_TEST_REMOVE"]))
    FD.close(child)
    #expect(try readToEnd(parent) == "x y:unset:home\n")
    #expect(try first.wait() == .exited(0))

    let (parent2, child2) = try SocketPair.make()
    defer { FD.close(parent2) }
    let second = try Child.sh(
      "echo \"$ONLY:${HOME-unset}\" >&3", childFD: child2, environment: .exactly(["ONLY": "1"]))
    FD.close(child2)
    #expect(try readToEnd(parent2) == "1:unset\n")
    #expect(try second.wait() == .exited(0))
  }

  @Test func standardStreamsAndWorkingDirectory() throws {
    try withTemporaryDirectory { (dir) throws in
      let output = try PipePair.make()
      defer { FD.close(output.read) }
      let process = try Child.sh(
        "read x; echo \"in:${x:-none}\"; pwd; echo err >&2", standardInput: .null,
        standardOutput: .fd(output.write), standardError: .null, workingDirectory: dir)
      FD.close(output.write)
      let real = URL(fileURLWithPath: dir).resolvingSymlinksInPath().path
      #expect(try readToEnd(output.read) == "in:none\n\(real)\n")
      #expect(try process.wait() == .exited(0))
    }
  }

  @Test(arguments: [ProcessGroupOption.newGroup, .newSession])
  func processGroupOptions(option: ProcessGroupOption) throws {
    let (parent, child) = try SocketPair.make()
    defer { FD.close(parent) }
    let process = try Child.sh("read line <&3", childFD: child, processGroup: option)
    FD.close(child)
    let fields = try procStatFields(process.pid)
    try #require(fields.count > 3)
    #expect(fields[2] == String(process.pid))
    if option == .newSession {
      #expect(fields[3] == String(process.pid))
    } else {
      #expect(fields[3] != String(process.pid))
    }
    try Signals.send(signal: Signals.terminate, toGroup: process.pid)
    #expect(try process.wait() == .signaled(SIGTERM, coreDumped: false))
  }

  @Test func missingExecutableThrowsWithThePath() throws {
    let error = #expect(throws: SystemError.self) {
      try ProcessSpawner.spawn(executable: "/nonexistent/drover-nope")
    }
    #expect(error?.code == ENOENT)
    #expect(error?.description.contains("/nonexistent/drover-nope") == true)
  }

  @Test func searchPathFindsAProgram() throws {
    let pid = try environmentLock.withLock { (_) throws in
      try ProcessSpawner.spawn(executable: "true", searchPath: true)
    }
    #expect(try Child(pid: pid).wait() == .exited(0))
  }
}
