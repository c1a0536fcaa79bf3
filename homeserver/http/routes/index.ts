import type { FastifyInstance } from 'fastify';
import { accountRoutes } from './account.js';
import { appserviceAdminRoutes } from './appservices-admin.js';
import { appservicePingRoutes } from './appservice-ping.js';
import { thirdPartyRoutes } from './thirdparty.js';
import { batchSendRoutes } from './batch-send.js';
import { deviceRoutes } from './devices.js';
import { directoryRoutes } from './directory.js';
import { loginRoutes } from './login.js';
import { mediaRoutes } from './media.js';
import { notificationRoutes } from './notifications.js';
import { registerRoutes as registrationRoutes } from './register.js';
import { roomEventRoutes } from './room-events.js';
import { roomHistoryRoutes } from './room-history.js';
import { searchRoutes } from './search.js';
import { spaceRoutes } from './spaces.js';
import { roomRoutes } from './rooms.js';
import { versionRoutes } from './versions.js';
import { syncRoutes } from './sync.js';
import { ephemeralRoutes } from './ephemeral.js';
import { e2eKeyRoutes } from './e2e-keys.js';
import { keyBackupRoutes } from './key-backup.js';
import { toDeviceRoutes } from './to-device.js';
import { userDataRoutes } from './user-data.js';
import { pushRuleRoutes } from './push-rules.js';
import { pusherRoutes } from './pushers.js';
import { openIdRoutes } from './openid.js';
import { voipRoutes } from './voip.js';
import { threepidRoutes } from './threepid.js';
import { reportRoutes } from './reports.js';
import { reportAdminRoutes } from './reports-admin.js';
import { timestampToEventRoutes } from './timestamp-to-event.js';
import { relationRoutes } from './relations.js';

export async function registerRoutes(app: FastifyInstance): Promise<void> {
  for (const routes of [
    versionRoutes,
    registrationRoutes,
    loginRoutes,
    accountRoutes,
    deviceRoutes,
    roomRoutes,
    roomEventRoutes,
    roomHistoryRoutes,
    searchRoutes,
    spaceRoutes,
    relationRoutes,
    batchSendRoutes,
    directoryRoutes,
    syncRoutes,
    ephemeralRoutes,
    userDataRoutes,
    pushRuleRoutes,
    notificationRoutes,
    pusherRoutes,
    mediaRoutes,
    e2eKeyRoutes,
    toDeviceRoutes,
    keyBackupRoutes,
    appserviceAdminRoutes,
    appservicePingRoutes,
    thirdPartyRoutes,
    openIdRoutes,
    voipRoutes,
    threepidRoutes,
    reportRoutes,
    reportAdminRoutes,
    timestampToEventRoutes,
  ]) {
    await routes(app);
  }
}
