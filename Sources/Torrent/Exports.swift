// The torrent's public errors are RackswarmCore's `CodedError`, with the one `ErrorIntent`.
@_exported import RackswarmCore
