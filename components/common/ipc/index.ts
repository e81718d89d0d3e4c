// Public face of the IPC layer: what components import. The client (ipc-client.ts) wraps the SDK's
// greengrasscoreipc; the envelopes and byte encoding beside it are pure and reusable on their own.
export {
  connectIpc,
  createSdkClient,
  IpcClient,
  payloadToBytes,
  toIpcError,
  type ComponentDetails,
  type ConfigurationUpdate,
  type IoTCoreMessage,
  type IpcConnectOptions,
  type IpcSubscription,
  type LocalMessage,
  type MessageHandler,
  type RequestHandler,
  type RequestOptions,
  type SubscribeOptions,
  type ValidateConfigurationEvent,
} from './ipc-client.ts';
export { decodeBinaryFields, encodeBinaryFields } from './binary-json.ts';
export { replyTopicOf, requestTopicOf } from './request-envelope.ts';
