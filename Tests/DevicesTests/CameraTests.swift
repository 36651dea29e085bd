import Devices
import Testing
import VitalsCore

@Suite struct CameraFormatChoiceTests {
    let uvc = [
        CameraMode(fourcc: "MJPG", width: 1920, height: 1080), CameraMode(fourcc: "MJPG", width: 1280, height: 720),
        CameraMode(fourcc: "MJPG", width: 640, height: 480), CameraMode(fourcc: "YUYV", width: 640, height: 480),
        CameraMode(fourcc: "YUYV", width: 320, height: 240), CameraMode(fourcc: "NV12", width: 1280, height: 720),
    ]

    @Test func yuyvIsPreferredAtTheRequestedSize() throws {
        let mode = try CameraFormatChoice.choose(from: uvc, request: CameraRequest(width: 640, height: 480, fps: 30))
        #expect(mode == CameraMode(fourcc: "YUYV", width: 640, height: 480))
    }

    @Test func anotherReadableFormatIsUsedWhereItAloneOffersTheSize() throws {
        let mode = try CameraFormatChoice.choose(from: uvc, request: CameraRequest(width: 1280, height: 720, fps: 30))
        #expect(mode == CameraMode(fourcc: "NV12", width: 1280, height: 720))
    }

    @Test func aPreferredFormatComesFirst() throws {
        let modes = [CameraMode(fourcc: "YUYV", width: 640, height: 480), CameraMode(fourcc: "NV12", width: 640, height: 480)]
        let mode = try CameraFormatChoice.choose(from: modes, request: CameraRequest(width: 640, height: 480, fps: 30, preferred: "nv12"))
        #expect(mode.fourcc == "NV12")
    }

    @Test func withoutTheSizeTheNearestReadableModeIsChosen() throws {
        let mode = try CameraFormatChoice.choose(from: uvc, request: CameraRequest(width: 352, height: 288, fps: 30))
        #expect(mode == CameraMode(fourcc: "YUYV", width: 320, height: 240))
    }

    @Test func mjpegIsUsedWhereOnlyItOffersTheSize() throws {
        let mode = try CameraFormatChoice.choose(from: uvc, request: CameraRequest(width: 1920, height: 1080, fps: 30))
        #expect(mode == CameraMode(fourcc: "MJPG", width: 1920, height: 1080))
        let preferred = try CameraFormatChoice.choose(from: uvc, request: CameraRequest(width: 640, height: 480, fps: 30, preferred: "mjpeg"))
        #expect(preferred.fourcc == "MJPG")
        // Without the size, an uncompressed mode is nearer to what the engine wants.
        let nearest = try CameraFormatChoice.choose(from: uvc, request: CameraRequest(width: 800, height: 600, fps: 30))
        #expect(nearest == CameraMode(fourcc: "YUYV", width: 640, height: 480))
    }

    @Test func aCameraWithNothingUsableIsRefusedClearly() {
        #expect {
            try CameraFormatChoice.choose(from: [CameraMode(fourcc: "H264", width: 640, height: 480), CameraMode(fourcc: "HEVC", width: 640, height: 480)], request: CameraRequest(width: 640, height: 480, fps: 30))
        } throws: { error in
            guard case .unsupported(let message) = error as? DeviceError else { return false }
            return message.contains("H264, HEVC")
        }
    }

    @Test func fourccsMapToTheEnginesPixelFormats() {
        #expect(CameraFormatChoice.pixelFormat(of: "YUYV") == .yuyv)
        #expect(CameraFormatChoice.pixelFormat(of: "NV12") == .nv12)
        #expect(CameraFormatChoice.pixelFormat(of: "YU12") == .i420)
        #expect(CameraFormatChoice.pixelFormat(of: "MJPG") == nil)
    }
}

@Suite struct V4L2CameraTests {
    @Test func aMissingDeviceIsReportedAsMissing() {
        #expect {
            _ = try V4L2Camera(path: "/dev/video-absent-42", request: CameraRequest(width: 640, height: 480, fps: 30)).open()
        } throws: { error in
            guard case .missing(let message) = error as? DeviceError else { return false }
            return message.contains("/dev/video-absent-42")
        }
    }

    @Test func aDeviceThatIsNotACameraIsRefused() {
        #expect {
            _ = try V4L2Camera(path: "/dev/null", request: CameraRequest(width: 640, height: 480, fps: 30)).open()
        } throws: { error in
            guard case .unsupported(let message) = error as? DeviceError else { return false }
            return message.contains("not a V4L2 device")
        }
    }
}
