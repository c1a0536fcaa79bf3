import { LoginError, type LoginProcess, type LoginStep } from '../../../bridges/core/network/login-process.js';
import type { FakeNetwork } from './fake-network.js';
import { completeStep } from './login-complete.js';

/**
 * The `phone` flow (Telegram-style): phone number -> the code the network "sent" (tests read it
 * with FakeNetwork.lastCode(phone)) -> complete. A wrong code is a retryable LoginError.
 */
export class PhoneLogin implements LoginProcess {
  private phone: string | undefined;
  private done = false;

  constructor(private readonly net: FakeNetwork) {}

  async start(): Promise<LoginStep> {
    return {
      type: 'user_input',
      stepId: 'fakenet.phone',
      instructions: 'Enter your phone number',
      fields: [{ type: 'phone_number', id: 'phone_number', name: 'Phone number', pattern: '^\\+?[0-9]{6,15}$' }],
    };
  }

  async submitUserInput(input: Record<string, string>): Promise<LoginStep> {
    if (this.done) throw new LoginError('fakenet.login_finished', 'This login is no longer active', false);
    if (this.phone === undefined) {
      const phone = (input.phone_number ?? '').replace(/[\s()-]/g, '');
      if (!/^\+?[0-9]{6,15}$/.test(phone)) throw new LoginError('fakenet.invalid_phone', 'That is not a phone number');
      this.phone = phone;
      this.net.desk.sendCode(phone);
      return {
        type: 'user_input',
        stepId: 'fakenet.code',
        instructions: 'Enter the code sent to your phone',
        fields: [{ type: '2fa_code', id: 'code', name: 'Code', pattern: '^[0-9]{5}$' }],
      };
    }
    const signedIn = this.net.desk.signIn(this.phone, input.code ?? '');
    if (!signedIn) throw new LoginError('fakenet.invalid_code', 'Wrong code', true);
    this.done = true;
    return completeStep(this.net, signedIn);
  }

  cancel(): void {
    this.done = true;
  }
}
