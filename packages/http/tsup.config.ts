import { racewayPackage } from '../../tooling/tsup.js';

export default racewayPackage();
