import DroverSystem
import DroverWire

/// Output to workers: frames queued during a turn and written at its end.
extension Supervisor {
  /// Reads into `readBuffer`: nil when nothing is there now, 0 at EOF or on an error.
  func readSome(_ fd: Int32) -> Int? {
    do { return try FD.read(fd, into: &readBuffer) } catch { return 0 }
  }

  /// Writes what the socket takes: nil when full now, 0 on an error (peer gone).
  func writeSome(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int? {
    do { return try FD.write(fd, from: bytes) } catch { return 0 }
  }

  /// Queues a frame for `w`, written at the end of the turn.
  func send(_ message: SupervisorMessage, to w: WorkerHandle) {
    FrameEncoder.append(message, to: &w.outBuffer)
    noteOutput(w)
  }

  /// `w` has frames to write: the end of the turn flushes the workers listed here, not every
  /// worker (an idle supervisor with many pools wakes for each heartbeat).
  func noteOutput(_ w: WorkerHandle) { flushList.add(w) }

  /// Writes the pending frames of the workers `noteOutput` listed; one whose socket is full
  /// stays listed for the next turn.
  func flushListed() {
    guard !flushList.isEmpty else { return }
    for w in flushList.take() {
      guard !w.outBuffer.isEmpty else { continue }
      flush(w)
      if !w.outBuffer.isEmpty && w.socketOpen { noteOutput(w) }
    }
  }

  /// Writes a worker's pending frames. A worker that cannot take them (socket full for long,
  /// or gone) is left to the heartbeat check and the reaper.
  func flush(_ w: WorkerHandle) {
    guard w.socketOpen else {
      w.outBuffer = []
      return
    }
    var off = 0
    while off < w.outBuffer.count {
      let n = w.outBuffer.withUnsafeBytes {
        writeSome(w.fd, UnsafeRawBufferPointer(rebasing: $0[off...]))
      }
      guard let written = n, written > 0 else { break }
      off += written
    }
    if off == w.outBuffer.count {
      w.outBuffer.removeAll(keepingCapacity: true)
    } else {
      w.outBuffer.removeFirst(off)
    }
  }
}
