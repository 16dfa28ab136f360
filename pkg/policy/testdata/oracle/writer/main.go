// Command writer runs inside the oracle guest: it opens the IMA policy file
// once and writes each corpus rule, followed by a newline, in its own
// write(2), recording the kernel's answer per rule. One open for the whole
// corpus matters: a kernel without CONFIG_IMA_WRITE_POLICY removes the file
// after the first successful close.
//
// Input: records "LEN\n" + LEN bytes. Output: one line per record,
// "INDEX ok N" or "INDEX err ERRNO-NAME".
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: writer CORPUS POLICYFILE RESULTS")
		os.Exit(2)
	}
	in, err := os.Open(os.Args[1])
	if err != nil {
		fail(err)
	}
	fd, err := syscall.Open(os.Args[2], syscall.O_WRONLY, 0)
	if err != nil {
		fail(fmt.Errorf("open %s: %w", os.Args[2], err))
	}
	out, err := os.Create(os.Args[3])
	if err != nil {
		fail(err)
	}
	r := bufio.NewReader(in)
	for i := 1; ; i++ {
		hdr, err := r.ReadString('\n')
		if err == io.EOF && hdr == "" {
			break
		}
		if err != nil {
			fail(err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(hdr))
		if err != nil {
			fail(err)
		}
		buf := make([]byte, n+1)
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			fail(err)
		}
		buf[n] = '\n'
		// A raw write: the kernel may report one byte more than asked
		// for, which os.File.Write would turn into a panic.
		w, err := syscall.Write(fd, buf)
		if err != nil {
			fmt.Fprintf(out, "%d err %s\n", i, errnoName(err))
		} else {
			fmt.Fprintf(out, "%d ok %d\n", i, w)
		}
	}
	if err := out.Close(); err != nil {
		fail(err)
	}
	// Closing ends the update; with a refused rule in it the kernel
	// discards everything ("policy update failed") and keeps the file.
	if err := syscall.Close(fd); err != nil {
		fail(err)
	}
}

func errnoName(err error) string {
	if e, ok := err.(syscall.Errno); ok {
		switch e {
		case syscall.EINVAL:
			return "EINVAL"
		case syscall.ENOENT:
			return "ENOENT"
		case syscall.EACCES:
			return "EACCES"
		case syscall.ENOMEM:
			return "ENOMEM"
		case syscall.EPERM:
			return "EPERM"
		case syscall.EFAULT:
			return "EFAULT"
		case syscall.ERANGE:
			return "ERANGE"
		}
		return "errno" + strconv.Itoa(int(e))
	}
	return "error"
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "writer:", err)
	os.Exit(1)
}
