// Sends a UDP datagram carrying process.hrtime.bigint() (CLOCK_MONOTONIC, the clock Python's
// time.monotonic_ns() reads too) to 127.0.0.1:<port> every <ms> milliseconds, until killed.
import dgram from 'node:dgram';

const [port = 0, every = 5] = process.argv.slice(2).map(Number);
const socket = dgram.createSocket('udp4');
setInterval(() => socket.send(String(process.hrtime.bigint()), port, '127.0.0.1'), every);
