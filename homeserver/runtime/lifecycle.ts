/** Something with a start/stop lifetime (a job processor, a server, a poller). `stop()` waits for in-flight work to finish. */
export interface Service {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}
