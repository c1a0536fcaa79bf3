'use strict';
// See package.json: the names @matrix-org/matrix-sdk-crypto-nodejs exports, so that requiring it
// succeeds; constructing a class or calling a function throws, since there is no native crypto here.

function unavailable(what) {
  return new Error(
    `${what}: @matrix-org/matrix-sdk-crypto-nodejs is a stub in this installation (no native binary); ` +
      'end-to-end encryption through matrix-bot-sdk is not available',
  );
}

/** A class that cannot be constructed and whose listed static methods throw. */
function unavailableClass(name, statics = []) {
  const cls = {
    [name]: class {
      constructor() {
        throw unavailable(`new ${name}()`);
      }
    },
  }[name];
  for (const s of statics) {
    cls[s] = () => {
      throw unavailable(`${name}.${s}()`);
    };
  }
  return cls;
}

// Enums keep their real values: importers may read them without using crypto.
const enums = {
  EncryptionAlgorithm: { OlmV1Curve25519AesSha2: 0, MegolmV1AesSha2: 1 },
  ShieldColor: { Red: 0, Grey: 1, None: 2 },
  ShieldStateCode: {
    AuthenticityNotGuaranteed: 0,
    UnknownDevice: 1,
    UnsignedDevice: 2,
    UnverifiedIdentity: 3,
    SentInClear: 4,
    VerificationViolation: 5,
    None: 6,
  },
  HistoryVisibility: { Invited: 0, Joined: 1, Shared: 2, WorldReadable: 3 },
  DeviceKeyAlgorithmName: { Ed25519: 0, Curve25519: 1, Unknown: 2 },
  StoreType: { Sqlite: 0 },
  RequestType: { KeysUpload: 0, KeysQuery: 1, KeysClaim: 2, ToDevice: 3, SignatureUpload: 4, RoomMessage: 5, KeysBackup: 6 },
  SignatureState: { Missing: 0, Invalid: 1, ValidButNotTrusted: 2, ValidAndTrusted: 3 },
};
for (const [name, values] of Object.entries(enums)) module.exports[name] = Object.freeze({ ...values });

const classes = {
  Attachment: ['encrypt', 'decrypt'],
  EncryptedAttachment: [],
  BackupDecryptionKey: ['createRandomKey', 'fromBase64'],
  MegolmV1BackupKey: [],
  RoomKeyCounts: [],
  BackupKeys: [],
  EncryptionSettings: [],
  ShieldState: [],
  UserId: [],
  DeviceId: [],
  DeviceKeyId: [],
  DeviceKeyAlgorithm: [],
  RoomId: [],
  ServerName: [],
  OlmMachine: ['initialize'],
  CrossSigningStatus: [],
  KeysUploadRequest: [],
  KeysQueryRequest: [],
  KeysClaimRequest: [],
  ToDeviceRequest: [],
  SignatureUploadRequest: [],
  RoomMessageRequest: [],
  KeysBackupRequest: [],
  DecryptedRoomEvent: [],
  DeviceLists: [],
  Signatures: [],
  Signature: [],
  MaybeSignature: [],
  SignatureVerification: [],
  Ed25519PublicKey: [],
  Ed25519Signature: [],
  Curve25519PublicKey: [],
  IdentityKeys: [],
  Versions: [],
};
for (const [name, statics] of Object.entries(classes)) module.exports[name] = unavailableClass(name, statics);

module.exports.getVersions = () => {
  throw unavailable('getVersions()');
};
