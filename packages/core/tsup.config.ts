import { racewayPackage } from '../../tooling/tsup';

export default racewayPackage();
