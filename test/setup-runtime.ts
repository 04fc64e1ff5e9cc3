import { installRuntimeLogging } from '../src/temporal/logging';

// Core's warnings about failures the tests provoke on purpose would drown the output.
installRuntimeLogging('WARN', 'ERROR');
