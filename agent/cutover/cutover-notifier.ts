// The new owner's agent's side of the cutoverNotice (components/function-host/request-wire.ts; an
// in-network move's function host sends its own, direct-cutover.ts): once a cutover is done, the
// target agent (migration/target-migrations.ts) tells the old owner's function host directly, over
// UDP on the request path, so the old owner hands over its buffered requests without waiting for the
// TakeOver answer to travel back through both agents. The notice only shortens the freeze: the source
// agent's own handOver call still follows, and finds it done.
import dgram from 'node:dgram';

import type { Logger } from '../../components/common/logger.ts';
import type { UdpAddress } from '../../components/function-host/function-host-api.ts';
import { encodeMessage, type CutoverNotice } from '../../components/function-host/request-wire.ts';

export interface CutoverNotifier {
  notify(to: UdpAddress, notice: CutoverNotice['cutoverNotice']): void;
  close(): Promise<void>;
}

export class UdpCutoverNotifier implements CutoverNotifier {
  // Unbound: the first send binds it to a free port, which is all a sender needs.
  private readonly socket = dgram.createSocket('udp4');
  private readonly log: Logger;

  constructor(log: Logger) {
    this.log = log;
    this.socket.on('error', (err) => log.warn('cutover notice socket error', { err }));
  }

  notify(to: UdpAddress, notice: CutoverNotice['cutoverNotice']): void {
    const bytes = encodeMessage({ cutoverNotice: notice });
    // Sent twice: a lost notice costs the freeze the TakeOver answer's way back, a duplicate nothing.
    for (let copy = 0; copy < 2; copy += 1) {
      this.socket.send(bytes, to.port, to.address, (err) => {
        if (err) this.log.warn('cutover notice not sent', { to, err });
      });
    }
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
