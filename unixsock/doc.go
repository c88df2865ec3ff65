// Package unixsock serves net/http on Unix sockets the way a system service
// should: a socket file made with the mode and owner asked for and no
// moment more permissive, stale files from a crash cleared while live ones
// and other files are left alone, systemd socket activation, and the peer's
// user, group and process ID available to every request.
//
// # Listening on a path
//
//	ln, err := unixsock.Listen("/run/app/http.sock", unixsock.Config{
//		Mode: 0o660,        // the default: owner and group
//		GID:  new(33),      // www-data, say, for the proxy in front
//		Lock: true,         // "/run/app/http.sock.lock" keeps a second instance out
//	})
//	if err != nil { ... }           // errors.Is(err, unixsock.ErrInUse): one is running
//	err = srv.Serve(ln)             // srv.Close and Shutdown close ln: the file goes
//
// [Listen] binds inside a fresh 0700 directory beside the path, sets the
// mode and owner there, and links the socket into place, so that the file
// appears with its final permissions without touching the process-wide
// umask (see Listen for the method and what it needs). It works on open
// directories throughout (the *at system calls), never on a name another
// user could replace, so a server running as root cannot be made to
// change another file's mode; and it refuses, with [ErrUnsafeDirectory],
// a directory that another user owns or may write to without the sticky
// bit, since that user could replace the socket itself. A socket already at
// the path is dialled: if nothing answers (ECONNREFUSED) it is a stale
// leftover and is replaced; if a server answers, Listen fails with
// [ErrInUse] and touches nothing; a file that is not a socket is never
// removed ([ErrNotSocket]). [Listener.Close] removes the socket file only
// if the path still holds the very file Listen made.
//
// A name beginning with "@" is a Linux abstract socket: no file, so no
// mode, and any process in the network namespace may connect: guard it
// with a [PeerFilter].
//
// # Socket activation
//
// Under systemd, a .socket unit may own the socket and pass it to the
// service, which then starts on the first connection, restarts without
// refusing one, and needs no permission to create the file. [Activated]
// returns what was passed, by name and in order, and says plainly when
// nothing was ([ErrNotActivated]), so a program can fall back to Listen:
//
//	var ln net.Listener
//	ss, err := unixsock.Activated(true)
//	switch {
//	case err == nil:
//		ln = ss.Listener("http")          // FileDescriptorName=http
//	case errors.Is(err, unixsock.ErrNotActivated):
//		ln, err = unixsock.Listen(path, unixsock.Config{})
//	}
//
// examples/systemd has a .socket and a .service unit and a program that
// runs with and without them.
//
// # Peer credentials
//
// The kernel records who connected to a Unix socket: [ConnContext] reads
// that once per connection (SO_PEERCRED) and puts it in the context of
// every request on it, HTTP/1.1 and HTTP/2 alike, through listener
// wrappers and TLS; [PeerCredFromContext] reads it. A [PeerFilter] admits
// only chosen users and groups and answers everyone else 403:
//
//	srv.ConnContext = unixsock.ConnContext(srv.ConnContext)
//	f, err := unixsock.NewPeerFilter(unixsock.PeerConfig{UIDs: []int{0, 33}})
//	srv.Handler = f.Handler(mux)
//
// # How it mirrors Kestrel, and where Go does better
//
// Kestrel listens on a Unix socket path (ListenUnixSocket) and, like
// net/http, serves HTTP/2 there only with prior knowledge (in Go:
// http.Server.Protocols with SetUnencryptedHTTP2). Its users' pain points
// are answered here: a socket file left by a crash blocks the next start
// (aspnetcore #14134; Kestrel will not delete what "may not be ours"):
// Listen proves a file stale before removing it; there is no option for
// the file's mode or owner: Config has both; there are no abstract
// sockets: "@name". net/http's own UnixListener removes its path on Close
// even when another process has replaced the file since, and creates the
// file with the umask's permissions first: Listener does neither. Kestrel
// and net/http bind wherever the path leads and leave the directory's
// safety to the user; Listen checks it and follows no replaceable name.
//
// # Metrics
//
// [Listener.Stats] counts accepted connections and whether a stale socket
// was removed; [PeerFilter.Stats] counts admitted requests and refusals by
// [Reason], which [PeerConfig.OnReject] also receives as a [*PeerError].
//
// # Platforms
//
// Listen works on Linux, Android, macOS and the BSDs; abstract sockets,
// peer credentials and socket activation are Linux's. Elsewhere the
// functions return an error wrapping [ErrNotSupported] ([Activated]'s also
// wraps ErrNotActivated, so that fallback code runs unchanged).
package unixsock
