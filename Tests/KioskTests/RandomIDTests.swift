import Foundation
import HHProtocol
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Session and turn ids: random UUIDs that stay random when the process has no descriptors
/// left (Foundation's `UUID()` then returned the same id every time, and sessions were lost).
@Suite(.serialized) struct RandomIDTests {
    @Test func idsAreVersion4UUIDsAndDoNotRepeat() {
        var seen = Set<String>()
        for _ in 0..<10_000 {
            let id = RandomID.uuid()
            #expect(UUID(uuidString: id) != nil && id == id.lowercased() && id.count == 36)
            let version = id[id.index(id.startIndex, offsetBy: 14)]
            let variant = id[id.index(id.startIndex, offsetBy: 19)]
            #expect(version == "4" && "89ab".contains(variant), "\(id)")
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
    }

    @Test func idsStayRandomWithNoDescriptorLeft() {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let saved = limit
        // For a moment no new descriptor can be opened (kept short: other tests share the process).
        limit.rlim_cur = 0
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let probe = open("/dev/null", O_RDONLY)
        let exhausted = probe < 0 && errno == EMFILE
        let ids = (0..<50).map { _ in RandomID.uuid() }
        var restore = saved
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &restore)
        if probe >= 0 { close(probe) }
        #expect(exhausted, "the test really ran out of descriptors")
        #expect(Set(ids).count == ids.count, "no id repeats: \(Set(ids).count) distinct of \(ids.count)")
        #expect(!ids.contains("00000000-0000-4000-8000-000000000000"))
    }
}
