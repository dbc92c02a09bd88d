import { listenAddressOf, socketInode } from './listenSocket.js';

// Rows as the kernel writes them (header, then one line per socket; fields padded with blanks).
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 424242 1 0000000021c5d2cd 100 0 0 10 0
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 424243 1 0000000000000000 20 4 30 10 -1
   2: 00000000:1F91 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 424244 1 0000000000000000 100 0 0 10 0
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 515151 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:1F93 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 515152 1 0000000000000000 100 0 0 10 0
`;

describe('listen socket from procfs', () => {
  it('reads the inode of a socket link only', () => {
    expect([socketInode('socket:[424242]'), socketInode('pipe:[1]'), socketInode('/dev/null'), socketInode('socket:[x]')]).toEqual([424242, null, null, null]);
  });

  it('finds the LISTEN row of an inode: address and port', () => {
    expect(listenAddressOf(TCP, 424242)).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(listenAddressOf(TCP6, 515151)).toEqual({ host: '::', port: 8082 });
    expect(listenAddressOf(TCP6, 515152)).toEqual({ host: '::1', port: 8083 });
  });

  it('an established connection, a bound socket not yet listening, or an unknown inode: none', () => {
    expect([listenAddressOf(TCP, 424243), listenAddressOf(TCP, 424244), listenAddressOf(TCP, 1), listenAddressOf('garbage', 424242)]).toEqual([null, null, null, null]);
  });
});
