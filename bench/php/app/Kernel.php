<?php
declare(strict_types=1);

namespace Bench;

/** Wires the services and dispatches the request, as a framework's front controller does. */
final class Kernel
{
    private Container $container;
    private Router $router;

    public function __construct(Config $config)
    {
        $c = new Container();
        $c->set(Config::class, fn () => $config);
        $c->set(Escaper::class, fn () => new Escaper());
        $c->set(DateFormatter::class, fn () => new DateFormatter());
        $c->set(View::class, fn (Container $c) => new View($c->get(Escaper::class), $c->get(DateFormatter::class)));
        $c->set(Menu::class, fn (Container $c) => new Menu(
            ['Home' => '/', 'Catalog' => '/page.php', 'About' => '/about', 'Contact' => '/contact'],
            $c->get(Escaper::class),
        ));
        $c->set(Layout::class, fn (Container $c) => new Layout($c->get(Menu::class), $c->get(Escaper::class), $config));
        $c->set(ProductRepository::class, fn (Container $c) => new ProductRepository($c->get(Config::class)));
        $this->container = $c;
        $this->router = new Router();
        $this->router->add('*', CatalogController::class, 'index');
    }

    public function handle(Request $request): string
    {
        $route = $this->router->match($request);
        $controller = new ($route->controller)($this->container);
        return $controller->{$route->action}($request);
    }
}
