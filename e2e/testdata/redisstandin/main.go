// Command redisstandin is a TEST DOUBLE of redis-server for the static-only arm64 test image: no
// arm64 Redis binary exists on the test machines, and the image must hold a service for its health
// server to say ready. It reads the bind, port and requirepass lines of the config file the init
// writes and answers PING and AUTH as Redis does; nothing else. The full x86_64 image runs the
// real Redis.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	bind, port, pass := "127.0.0.1", "6379", ""
	if len(os.Args) > 1 {
		data, err := os.ReadFile(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "redisstandin:", err)
			os.Exit(1)
		}
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			switch f[0] {
			case "bind":
				bind = f[1]
			case "port":
				port = f[1]
			case "requirepass":
				pass = strings.Trim(f[1], `"`)
			}
		}
	}
	l, err := net.Listen("tcp", net.JoinHostPort(bind, port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "redisstandin:", err)
		os.Exit(1)
	}
	fmt.Println("redis stand-in: Ready to accept connections tcp")
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		fmt.Println("redis stand-in: exiting")
		os.Exit(0)
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			continue
		}
		go serve(c, pass)
	}
}

func serve(c net.Conn, pass string) {
	defer c.Close()
	r := bufio.NewReader(c)
	authed := pass == ""
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		if len(args) == 0 {
			continue
		}
		var reply string
		switch strings.ToUpper(args[0]) {
		case "AUTH":
			if len(args) > 1 && args[len(args)-1] == pass {
				authed, reply = true, "+OK"
			} else {
				reply = "-WRONGPASS invalid username-password pair or user is disabled."
			}
		case "PING":
			if authed {
				reply = "+PONG"
			} else {
				reply = "-NOAUTH Authentication required."
			}
		default:
			reply = "-ERR unknown command '" + args[0] + "' (stand-in)"
		}
		if _, err := c.Write([]byte(reply + "\r\n")); err != nil {
			return
		}
	}
}

func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "*") {
		return strings.Fields(line), nil
	}
	n, _ := strconv.Atoi(line[1:])
	args := make([]string, 0, n)
	for range n {
		if _, err := r.ReadString('\n'); err != nil { // $len
			return nil, err
		}
		a, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		args = append(args, strings.TrimRight(a, "\r\n"))
	}
	return args, nil
}
