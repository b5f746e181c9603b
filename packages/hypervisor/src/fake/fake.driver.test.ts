import { runDriverContract } from '../contract/contract.suite.js';
import { FakeDriver } from './fake.driver.js';

runDriverContract('fake', async () => {
  const driver = new FakeDriver();
  return {
    driver,
    image: { kind: 'disk', path: '/images/base.qcow2', format: 'qcow2' },
    leftovers: async () => [...driver.vms.keys(), ...driver.networks.keys()],
  };
});
