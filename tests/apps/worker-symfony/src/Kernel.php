<?php

namespace App;

use App\Controller\DemoController;
use Symfony\Bundle\FrameworkBundle\Controller\RedirectController;
use Symfony\Bundle\FrameworkBundle\FrameworkBundle;
use Symfony\Bundle\FrameworkBundle\Kernel\MicroKernelTrait;
use Symfony\Bundle\TwigBundle\TwigBundle;
use Symfony\Component\DependencyInjection\Loader\Configurator\ContainerConfigurator;
use Symfony\Component\HttpKernel\Kernel as BaseKernel;
use Symfony\Component\Routing\Loader\Configurator\RoutingConfigurator;

final class Kernel extends BaseKernel
{
    use MicroKernelTrait;

    /** Symfony finds it from composer.json, which this app (built from Debian's packages) has none of. */
    public function getProjectDir(): string
    {
        return \dirname(__DIR__);
    }

    public function registerBundles(): iterable
    {
        return [new FrameworkBundle(), new TwigBundle()];
    }

    protected function configureContainer(ContainerConfigurator $container): void
    {
        $container->extension('framework', [
            'secret' => 'uring-php-test-app-secret',
            'csrf_protection' => true,
            'http_method_override' => false,
            // PHP's own session handler and save path (php.ini), as most deployments use.
            'session' => [
                'handler_id' => null,
                'storage_factory_id' => 'session.storage.factory.native',
                'cookie_samesite' => 'lax',
            ],
            'router' => ['utf8' => true],
        ]);
        $container->extension('twig', ['default_path' => '%kernel.project_dir%/templates']);

        $container->services()
            ->defaults()->autowire()->autoconfigure()
            ->load('App\\Controller\\', __DIR__.'/Controller/')
            ->tag('controller.service_arguments');
    }

    protected function configureRoutes(RoutingConfigurator $routes): void
    {
        $routes->add('home', '/')
            ->controller([DemoController::class, 'home'])->methods(['GET']);
        $routes->add('contact', '/contact')
            ->controller([DemoController::class, 'contact'])->methods(['GET', 'POST']);
        $routes->add('thanks', '/contact/thanks')
            ->controller([DemoController::class, 'thanks'])->methods(['GET']);
        $routes->add('hello', '/hello/{name}')
            ->controller([DemoController::class, 'hello'])->methods(['GET'])
            ->requirements(['name' => '[a-z]{1,20}']);
        $routes->add('items', '/api/items/{count}')
            ->controller([DemoController::class, 'items'])->methods(['GET'])
            ->requirements(['count' => '\d{1,3}']);
        $routes->add('old_home', '/old-home')
            ->controller(RedirectController::class)
            ->defaults(['route' => 'home', 'permanent' => true]);
    }
}
