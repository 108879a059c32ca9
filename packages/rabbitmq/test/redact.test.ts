import { expect } from 'chai';
import { redact } from '../src/rabbitmq-options.js';

describe('RabbitMQ url redaction', () => {
  it('hides the password and keeps the rest', () => {
    expect(redact('amqp://guest:guest@127.0.0.1:5672/orders')).to.equal(
      'amqp://guest:***@127.0.0.1:5672/orders',
    );
    expect(redact('amqps://127.0.0.1')).to.equal('amqps://127.0.0.1');
    expect(redact('amqp://only-user@host/')).to.equal('amqp://only-user@host/');
  });

  it('hides passwords holding @, / or :, encoded or not', () => {
    const urls = [
      'amqp://app:p@ss@host/vh',
      'amqp://app:s3cr/et@host:5672/vh',
      'amqp://app:12/secret@host',
      'amqp://app:se:cr@et@host',
      'amqp://app:s%2Fe%40cret@host/%2f',
    ];
    for (const url of urls) {
      const redacted = redact(url);
      expect(redacted, url).not.to.match(/secret|s3cr|et@|p@ss|se:cr|cr@|%2Fe/);
      expect(redacted, url).to.contain('host');
    }
  });

  it('hides userinfo of text that is not a url at all, up to its last @ when in doubt', () => {
    expect(redact('amqp://app:se/cr@et@host/v@h')).to.equal('amqp://***@h');
    expect(redact('amqp://app:pa ss/w@rd@host:notaport')).to.equal('amqp://***@host:notaport');
  });
});
