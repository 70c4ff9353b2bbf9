// The installer's public error is RackswarmCore's `CodedError`, with the one `ErrorIntent`.
@_exported import RackswarmCore
