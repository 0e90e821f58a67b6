import Foundation

/// Starts `body` on a new thread whose name the operating system shows (`top -H`, `perf`, `gdb`,
/// `/proc/<pid>/task/*/comm`).
///
/// Foundation's `Thread.name` set before `start()` never reaches the kernel on Linux, so every
/// engine thread would show as the process's name; the thread sets its own name first. Linux
/// keeps 15 bytes of it.
public func startThread(named name: String, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread {
        nameCurrentThread(name)
        body()
    }
    thread.name = name
    thread.start()
}

/// Names the calling thread for the operating system (proc(5): a thread may write its own `comm`).
func nameCurrentThread(_ name: String) {
    #if os(Linux)
    let truncated = String(decoding: name.utf8.prefix(15), as: UTF8.self)
    try? truncated.write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
    #endif
    Thread.current.name = name
}
