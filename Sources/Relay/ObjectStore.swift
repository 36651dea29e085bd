import Foundation
import HHProtocol
import NIOCore
import NIOFoundationCompat
import NIOPosix
import Synchronization

/// The name of an object: `/`-separated segments of letters, digits, `-`, `_` and `.`, no
/// empty, `.` or `..` segment. Safe as a path under a folder and as an S3 key alike.
public struct ObjectKey: Sendable, Hashable, CustomStringConvertible {
    public let text: String

    /// Validates `text`.
    public init(_ text: String) throws(ObjectStoreError) {
        guard text.utf8.count <= 512,
              text.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).allSatisfy(Self.isSegment)
        else { throw ObjectStoreError.badKey(text) }
        self.text = text
    }

    private static func isSegment(_ segment: Substring.UTF8View.SubSequence) -> Bool {
        guard !segment.isEmpty, !segment.elementsEqual(".".utf8), !segment.elementsEqual("..".utf8) else { return false }
        return segment.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."): true
            default: false
            }
        }
    }

    /// The key under which a session document is kept: the exact bytes the kiosk sent, whose
    /// SHA-256 is the stored `digest`.
    public static func sessionDocument(clinicID: String, sessionID: String, digest: String) throws(ObjectStoreError) -> ObjectKey {
        try ObjectKey("sessions/\(clinicID)/\(sessionID).\(digest).json")
    }

    /// The session id and digest of a key made by ``sessionDocument(clinicID:sessionID:digest:)``;
    /// `nil` for any other key.
    public var sessionDocument: (session: String, digest: String)? {
        let parts = text.split(separator: "/")
        guard parts.count == 3, parts[0] == "sessions", parts[2].hasSuffix(".json") else { return nil }
        let name = parts[2].dropLast(".json".count)
        guard let dot = name.lastIndex(of: ".") else { return nil }
        return (String(name[..<dot]), String(name[name.index(after: dot)...]))
    }

    public var description: String { text }
}

/// Why an object operation failed.
public enum ObjectStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The key is not a valid ``ObjectKey``.
    case badKey(String)
    /// The store could not be reached or failed (disk full, network, 5xx): try again later.
    case unavailable(String)
    /// The store refused the request (credentials, permissions, missing bucket): a
    /// configuration problem that retrying will not fix.
    case refused(String)
    /// The store's folder is not the one the relay opened (removed or replaced while running).
    case misplaced(String)

    public var description: String {
        switch self {
        case .misplaced(let message): "object store unavailable: \(message)"
        case .badKey(let key): "not a valid object key: \(key)"
        case .unavailable(let message): "object store unavailable: \(message)"
        case .refused(let message): "object store refused the request: \(message)"
        }
    }
}

/// Where the relay keeps objects (session documents now; audio and summaries later). Two
/// back ends, one contract test suite: a local folder (embedded) and S3 (production).
public protocol ObjectStore: Sendable {
    /// Stores `bytes` under `key`, replacing what was there; durable when it returns.
    func put(_ bytes: ByteBuffer, at key: ObjectKey, contentType: String) async throws(ObjectStoreError)
    /// The object's bytes, `nil` when there is none.
    func get(_ key: ObjectKey) async throws(ObjectStoreError) -> ByteBuffer?
    /// Removes the object; removing an absent one is not an error.
    func delete(_ key: ObjectKey) async throws(ObjectStoreError)
    /// When the object was last written; `nil` when there is none.
    func modified(_ key: ObjectKey) async throws(ObjectStoreError) -> Date?
    /// The objects whose keys start with `prefix`, with when each was last written.
    func list(prefix: String) async throws(ObjectStoreError) -> [StoredObject]
    /// Removes what writes cut short by a crash left behind, if the store can have any (a
    /// folder's temporary files; S3's writes are atomic), older than `cutoff`; returns how many.
    func removeAbandonedWrites(olderThan cutoff: Date) async throws(ObjectStoreError) -> Int
    /// Throws ``ObjectStoreError/misplaced(_:)`` if the store's place is not the one it opened
    /// (for `GET /health`; a remote store has nothing to check here and does not call out).
    func checkInPlace() throws(ObjectStoreError)
    /// Releases the store's threads and connections, after the last request.
    func shutdown() async
}

extension ObjectStore {
    public func checkInPlace() throws(ObjectStoreError) {}
    public func shutdown() async {}
    public func removeAbandonedWrites(olderThan cutoff: Date) async throws(ObjectStoreError) -> Int { 0 }
}

/// An object as a listing shows it.
public struct StoredObject: Sendable, Hashable {
    /// Its key.
    public var key: ObjectKey
    /// When it was last written.
    public var modified: Date

    /// Creates a listing entry.
    public init(key: ObjectKey, modified: Date) {
        self.key = key
        self.modified = modified
    }
}

/// Objects as files under a folder (the embedded default, `DATA_DIR/objects`). A put writes a
/// temporary file, flushes it, renames it into place and flushes the folder (and the folders
/// above a new one), so a crash leaves the old object or the new one, never half of one, and
/// an object acknowledged stays. File I/O runs on a thread pool of its own, not on the tasks
/// serving requests; its threads mostly wait for the disk, so there are more of them than cores.
public final class LocalFolderObjectStore: ObjectStore {
    /// The folder holding the objects.
    public let root: String
    private let rootIdentity: FileIdentity
    private let threads: NIOThreadPool
    private let shutDown = Atomic<Bool>(false)

    /// A store under `root` (created when missing). Only folders below `root` are ever created
    /// afterwards: if `root` itself is removed or replaced while the relay runs, every operation
    /// fails as unavailable, saying so, instead of recreating an empty store somewhere else.
    public init(root: String, threads: Int = 16) throws(ObjectStoreError) {
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        } catch {
            throw .unavailable("cannot create \(root): \(error.localizedDescription)")
        }
        guard let identity = FileIdentity(path: root) else { throw .unavailable("\(root) is not there after creating it") }
        self.root = root
        self.rootIdentity = identity
        self.threads = NIOThreadPool(numberOfThreads: threads)
        self.threads.start()
    }

    public func checkInPlace() throws(ObjectStoreError) {
        do { try rootIdentity.requireInPlace() } catch { throw .misplaced(error.description) }
    }

    public func modified(_ key: ObjectKey) async throws(ObjectStoreError) -> Date? {
        let path = root + "/" + key.text
        return try await blocking { [rootIdentity] () throws -> Date? in
            try rootIdentity.requireInPlace()
            var info = stat()
            guard stat(path, &info) == 0 else {
                if errno == ENOENT { return nil }
                throw POSIXFailure("reading \(path)")
            }
            return Self.modified(info)
        }
    }

    public func list(prefix: String) async throws(ObjectStoreError) -> [StoredObject] {
        try await blocking { [root, rootIdentity] in
            try rootIdentity.requireInPlace()
            // Start from the deepest folder the prefix names whole.
            let folderPart = prefix.contains("/") ? String(prefix[..<prefix.lastIndex(of: "/")!]) : ""
            let start = folderPart.isEmpty ? root : root + "/" + folderPart
            guard let walker = FileManager.default.enumerator(atPath: start) else { return [] }
            var found: [StoredObject] = []
            while let relative = walker.nextObject() as? String {
                let name = folderPart.isEmpty ? relative : folderPart + "/" + relative
                guard name.hasPrefix(prefix), !(relative as NSString).lastPathComponent.hasPrefix(".tmp-"),
                      let key = try? ObjectKey(name) else { continue }
                var info = stat()
                guard stat(root + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
                found.append(StoredObject(key: key, modified: Self.modified(info)))
            }
            return found
        }
    }

    /// When the file `info` describes was last written.
    private static func modified(_ info: stat) -> Date {
        Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9)
    }

    /// Removes `.tmp-*` files (writes a crash cut short) older than `cutoff`.
    public func removeAbandonedWrites(olderThan cutoff: Date) async throws(ObjectStoreError) -> Int {
        try await blocking { [root] in
            guard let walker = FileManager.default.enumerator(atPath: root) else { return 0 }
            var removed = 0
            while let relative = walker.nextObject() as? String {
                guard (relative as NSString).lastPathComponent.hasPrefix(".tmp-") else { continue }
                var info = stat()
                let path = root + "/" + relative
                guard stat(path, &info) == 0, Self.modified(info) < cutoff else { continue }
                if unlink(path) == 0 { removed += 1 }
            }
            return removed
        }
    }

    /// Stops the file threads once the requests using them are done.
    public func shutdown() async {
        guard !shutDown.exchange(true, ordering: .relaxed) else { return }
        try? await threads.shutdownGracefully()
    }

    deinit {
        // A store dropped without ``shutdown()`` (one-off commands, tests) still lets its threads go.
        if !shutDown.load(ordering: .relaxed) { threads.shutdownGracefully { _ in } }
    }

    public func put(_ bytes: ByteBuffer, at key: ObjectKey, contentType: String) async throws(ObjectStoreError) {
        let path = root + "/" + key.text
        try await blocking { [root, rootIdentity] in
            try rootIdentity.requireInPlace()
            let folder = (path as NSString).deletingLastPathComponent
            try Self.ensureFolder(folder, below: root)
            let temporary = folder + "/.tmp-" + RandomID.uuid()
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
            guard descriptor >= 0 else { throw POSIXFailure("creating \(temporary)") }
            var written = 0
            let ok = bytes.withUnsafeReadableBytes { buffer -> Bool in
                while written < buffer.count {
                    let count = write(descriptor, buffer.baseAddress! + written, buffer.count - written)
                    if count < 0 { if errno == EINTR { continue }; return false }
                    written += count
                }
                return fsync(descriptor) == 0
            }
            let failure = ok ? nil : POSIXFailure("writing \(temporary)")
            close(descriptor)
            if let failure {
                unlink(temporary)
                throw failure
            }
            guard rename(temporary, path) == 0 else {
                let failure = POSIXFailure("renaming into \(path)")
                unlink(temporary)
                throw failure
            }
            try Self.flushFolder(folder)
        }
    }

    /// Creates `folder` and its missing parents up to `root` (never `root` or above it),
    /// flushing each parent so the new entries last.
    private static func ensureFolder(_ folder: String, below root: String) throws {
        var missing: [String] = []
        var current = folder
        while current.count > root.count {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: current, isDirectory: &isFolder) {
                guard isFolder.boolValue else { throw POSIXFailure(described: "\(current) is not a folder") }
                break
            }
            missing.append(current)
            current = (current as NSString).deletingLastPathComponent
        }
        for created in missing.reversed() {
            guard mkdir(created, 0o750) == 0 || errno == EEXIST else { throw POSIXFailure("creating \(created)") }
            try flushFolder((created as NSString).deletingLastPathComponent)
        }
    }

    private static func flushFolder(_ folder: String) throws {
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw POSIXFailure("opening \(folder)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw POSIXFailure("flushing \(folder)") }
    }

    public func get(_ key: ObjectKey) async throws(ObjectStoreError) -> ByteBuffer? {
        let path = root + "/" + key.text
        return try await blocking { [rootIdentity] () throws -> ByteBuffer? in
            try rootIdentity.requireInPlace()
            guard let data = FileManager.default.contents(atPath: path) else {
                if access(path, F_OK) != 0 && errno == ENOENT { return nil }
                throw POSIXFailure("reading \(path)")
            }
            return ByteBuffer(bytes: data)
        }
    }

    public func delete(_ key: ObjectKey) async throws(ObjectStoreError) {
        let path = root + "/" + key.text
        try await blocking {
            guard unlink(path) == 0 || errno == ENOENT else { throw POSIXFailure("removing \(path)") }
        }
    }

    /// Runs file I/O on the blocking pool; any failure is the store being unavailable (a full
    /// or read-only disk is the common case: the kiosk retries later).
    private func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws(ObjectStoreError) -> T {
        do {
            return try await threads.runIfActive(body)
        } catch let misplaced as MisplacedFile {
            throw .misplaced(misplaced.description)
        } catch let failure as POSIXFailure {
            throw .unavailable(failure.description)
        } catch {
            throw .unavailable("\(error)")
        }
    }
}

/// A failed system call, with errno's text.
struct POSIXFailure: Error, CustomStringConvertible {
    var description: String
    init(_ action: String) { description = "\(action): \(String(cString: strerror(errno)))" }
    init(described: String) { description = described }
}

/// Reading back what a kiosk sent.
public enum SessionExport {
    /// Why a session cannot be exported.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The exact bytes stored for session `sessionID`, after checking their SHA-256 against
    /// the digest the database recorded when the session was accepted.
    public static func documentOfRecord(sessionID: String, store: any RelayStore, objects: any ObjectStore) async throws -> Data {
        guard let session = try await store.session(id: sessionID) else { throw Failure(description: "no session with id \(sessionID)") }
        let key = try ObjectKey.sessionDocument(clinicID: session.clinicID, sessionID: session.id, digest: session.digest)
        guard let bytes = try await objects.get(key) else {
            throw Failure(description: "session \(sessionID) has no document of record at \(key) (stored before the relay kept them, or removed)")
        }
        let data = Data(buffer: bytes)
        let digest = sha256Hex(data)
        guard digest == session.digest else {
            throw Failure(description: "the document of record \(key) is damaged: SHA-256 \(digest), recorded \(session.digest)")
        }
        return data
    }
}
