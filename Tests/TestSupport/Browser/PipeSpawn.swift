import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts a process whose fd 3 reads what we write and whose fd 4 writes what we read: the
/// layout `--remote-debugging-pipe` expects. Foundation's `Process` only lets us set a child's
/// stdin/stdout/stderr (it closes every other descriptor in the child), so this uses
/// `posix_spawn` with file actions that `dup2` our pipe ends onto 3 and 4.
///
/// stdin is /dev/null; stdout and stderr go to `stderrPath`. The child leads a new process
/// group (so the caller can kill it with everything it forked) and starts with default signal
/// handling (our process ignores SIGPIPE; the child must not inherit that).
///
/// The child gets our environment with `TMPDIR` set to `temporaryFolder`.
///
/// Returns the child's pid and our ends: `toChild` (write) and `fromChild` (read), both
/// close-on-exec so no other child inherits them.
func spawnWithPipe(_ arguments: [String], stderrPath: String, temporaryFolder: String) throws -> (pid: pid_t, toChild: Int32, fromChild: Int32) {
    // Writing to a browser that died must be an EPIPE error, not a signal that kills the tests.
    signal(SIGPIPE, SIG_IGN)

    let commands = try makePipe()     // we write [1], the child reads [0] as fd 3
    let responses = try makePipe()    // the child writes [1] as fd 4, we read [0]
    let all = [commands.read, commands.write, responses.read, responses.write]

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }

    var setup: [Int32] = [
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0),
        posix_spawn_file_actions_addopen(&actions, 1, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600),
        posix_spawn_file_actions_adddup2(&actions, 1, 2),
        // Our ends are ≥ 10 (see makePipe), so these dup2s never collide with 3 and 4, and dup2
        // clears close-on-exec on the copies.
        posix_spawn_file_actions_adddup2(&actions, commands.read, 3),
        posix_spawn_file_actions_adddup2(&actions, responses.write, 4),
    ]
    if let addCloseFrom = closeFromAction {
        setup.append(addCloseFrom(&actions, 5))   // nothing else of ours leaks into the browser
    }
    var defaults = sigset_t()
    sigemptyset(&defaults)
    sigaddset(&defaults, SIGPIPE)
    var noMask = sigset_t()
    sigemptyset(&noMask)
    setup += [
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)),
        posix_spawnattr_setpgroup(&attributes, 0),
        posix_spawnattr_setsigdefault(&attributes, &defaults),
        posix_spawnattr_setsigmask(&attributes, &noMask),
    ]
    if let failed = setup.first(where: { $0 != 0 }) {
        all.forEach { _ = close($0) }
        throw BrowserError("launch", "could not prepare posix_spawn: \(String(cString: strerror(failed)))", stderrTail: "")
    }

    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var environment = ProcessInfo.processInfo.environment
    environment["TMPDIR"] = temporaryFolder
    var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { envp.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, &envp)
    // The child has its copies (or there is no child): close ours of its ends.
    _ = close(commands.read)
    _ = close(responses.write)
    guard spawned == 0 else {
        _ = close(commands.write)
        _ = close(responses.read)
        throw BrowserError("launch", "could not start \(arguments[0]): \(String(cString: strerror(spawned)))", stderrTail: "")
    }
    return (pid, commands.write, responses.read)
}

/// A pipe whose ends are close-on-exec and numbered 10 or more.
private func makePipe() throws -> (read: Int32, write: Int32) {
    var ends: [Int32] = [0, 0]
    guard pipe(&ends) == 0 else {
        throw BrowserError("launch", "pipe() failed: \(String(cString: strerror(errno)))", stderrTail: "")
    }
    defer { ends.forEach { _ = close($0) } }
    let read = fcntl(ends[0], F_DUPFD_CLOEXEC, 10)
    let write = fcntl(ends[1], F_DUPFD_CLOEXEC, 10)
    guard read >= 0, write >= 0 else {
        if read >= 0 { _ = close(read) }
        if write >= 0 { _ = close(write) }
        throw BrowserError("launch", "fcntl(F_DUPFD_CLOEXEC) failed: \(String(cString: strerror(errno)))", stderrTail: "")
    }
    return (read, write)
}

/// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later). Its header declares it
/// only under `_GNU_SOURCE`, which Swift's Glibc module does not set, so look it up at run time;
/// nil where it does not exist (then only close-on-exec descriptors stay out of the child).
private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
private let closeFromAction: AddCloseFrom? = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
    return unsafeBitCast(symbol, to: AddCloseFrom.self)
}()
